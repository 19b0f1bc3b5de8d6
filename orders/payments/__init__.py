"""Payments of orders: the order's payment state, the transactions with the payment services (capture on
shipment, refund for a credit note) and the provider adapters (Stripe, Mollie, a sandbox for the demo)."""
