"""The settings of a Zendesk profile (ZendeskBackend.settings), importable without zenpy."""

from tixcli.config import HTTP_SETTINGS, Setting, secret_settings

SETTINGS = {
    "subdomain": Setting(str, None, "https://SUBDOMAIN.zendesk.com (or give url)"),
    **HTTP_SETTINGS,
    **secret_settings("token", "API token (Basic auth with email)"),
    **secret_settings("oauth_token", "OAuth token (Bearer; instead of token)"),
}
