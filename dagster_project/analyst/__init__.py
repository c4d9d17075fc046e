"""For analysts: `fairuse sql`, a SQL shell and one-off queries on the published (read-only) warehouse."""
