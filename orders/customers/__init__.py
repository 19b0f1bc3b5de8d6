"""Customer service's customer pages: the list, a customer's page (orders; returns and invoices through
returns' and invoicing's fragments; addresses, B2B details, consent, account, notes) and its actions (resend
the account link, RGPD export and erasure, orders/customer_data.py). They live in ``orders`` because they
show orders; the customer data and its rules stay in ``customers``."""
