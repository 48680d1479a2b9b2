"""Category rules: how an org's statement rows get their category (first matching rule, else
the category of the last record with the same description, else none)."""
