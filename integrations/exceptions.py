from common.exceptions import DomainError


class InvalidWebhookUrl(DomainError):
    """This URL cannot receive webhooks."""

    code = "invalid_webhook_url"
    status_code = 422


class UnknownEventType(DomainError):
    """Unknown event type."""

    code = "unknown_event_type"
    status_code = 422


class EndpointDisabled(DomainError):
    """This endpoint is disabled: enable it first."""

    code = "endpoint_disabled"
    status_code = 409


class HubspotNotConfigured(DomainError):
    """HubSpot is not connected: enter a private app token first."""

    code = "hubspot_not_configured"
    status_code = 409
