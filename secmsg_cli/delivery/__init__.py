"""Delivery and the Secure Messaging Portal lifecycle (docs/portal.md), on top of
the engine and the store: the outbox Maildir (:mod:`.outbox`), the messages
the system sends (:mod:`.compose`), access tokens (:mod:`.tokens`) and the
rules of the portal (:mod:`.lifecycle`)."""
