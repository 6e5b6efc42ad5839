"""Config models of the stages and blocks that have their own (one module each); ``base.Frozen`` is the
base of every config model. ``schemas.config`` assembles them into ``RunConfig``.
"""
