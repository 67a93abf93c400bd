"""Each paper's central claim as a measured verdict over seeds (stages study@<study> and claim@<claim>)."""
