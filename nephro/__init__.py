"""Nephro: the nephrostogram service of a radiology department."""
