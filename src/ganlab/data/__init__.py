"""Datasets: sources and checksums, downloads, archive formats, and the canonical on-disk form."""
