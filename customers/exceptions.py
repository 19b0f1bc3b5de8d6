from common.exceptions import DomainError


class NotificationNotResendable(DomainError):
    """This message is still on its way: it cannot be sent again yet."""

    code = "notification_not_resendable"
    status_code = 409


class SmsNotAllowed(DomainError):
    """The customer has not agreed to text messages, or has no phone number."""

    code = "sms_not_allowed"
    status_code = 409


class AccountLinkInvalid(DomainError):
    """A sign-in link that is forged, expired or already used."""

    code = "account_link_invalid"
    status_code = 400
