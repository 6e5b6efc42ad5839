"""Typed records, Arrow schemas and config models shared by every pilewright stage."""
