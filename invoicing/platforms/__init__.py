"""Plateformes agréées (PA) and Chorus Pro: one adapter per platform behind one interface (``base``)."""
