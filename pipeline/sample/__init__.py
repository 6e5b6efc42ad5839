"""The embedded sample corpus: real open-licensed text, see README.md here."""
