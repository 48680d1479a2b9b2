"""Import profiles: an org's saved CSV mappings, by name, for its banks' statements."""
