"""The one training loop every variant runs through."""
