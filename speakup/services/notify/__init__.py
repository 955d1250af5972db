"""Notifications: webhooks, e-mail, and delivering the outbox."""
