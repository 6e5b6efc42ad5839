"""One module a stage: each a composite PTransform over ``schemas.records`` types, logic in pure functions."""
