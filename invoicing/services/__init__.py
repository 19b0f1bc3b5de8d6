"""Write operations of the invoicing app, one module per concern:

- ``issue``: what to invoice for an order, numbering (``sequence_next``), invoices and credit notes;
- ``render``: the Factur-X PDF/A-3b and its CII XML (``cii``);
- ``delivery``: emailing a document to the customer;
- ``exports``: the accountant's export of a period;
- ``entities``: saving the legal entities and the channels' billing settings.
"""
