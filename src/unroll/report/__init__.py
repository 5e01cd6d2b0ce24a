"""Figures and the HTML report of the tour."""
