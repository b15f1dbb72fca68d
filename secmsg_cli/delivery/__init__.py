"""Delivery and the Secure Messaging Portal lifecycle (SPEC §7.4), on top of
the engine and the store: the outbox Maildir (:mod:`.outbox`), the messages
the system sends (:mod:`.compose`), access tokens (:mod:`.tokens`) and the
rules of the portal (:mod:`.lifecycle`)."""
