"""Marshmallow schemas: the shapes on the wire.  They also produce ``openapi.yaml``."""
