"""The customer's side: the order-tracking portal (``/track/``) and the account space (``/account/``).
Public pages (no staff login): a tracking page is opened by its order's secret token, the account space by
a customer session kept apart from staff authentication (portal/auth.py)."""
