"""Customer service's customer pages: the list, a customer's page (orders, returns, invoices through
invoicing's fragment, addresses, B2B details, consent, account, notes) and its actions (resend the account
link, RGPD export and erasure). They live in ``orders`` because they show orders and returns; the customer
data and its rules stay in ``customers``."""
