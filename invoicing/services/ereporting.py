"""placeholder"""


def ereport_payload(report):
    raise NotImplementedError
