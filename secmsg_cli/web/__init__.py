"""The Secure Messaging Portal in a browser (docs/portal.md): the pages
(:mod:`.pages`, Jinja2 and nh3 only) and the web app that serves them
(:mod:`.app`, Starlette), over the same lifecycle as the ``portal`` commands.
Nothing here is imported unless a page is rendered or the portal served."""
