from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "Tessera tokens"

    def ready(self):
        from django.core.signals import got_request_exception

        from tokens.models import Token
        from tokens.services.audit import audit_server_error
        from tokens.services.otp import token_verify_passcode

        # django-otp's Device.verify_token delegates to the one passcode check.
        Token.passcode_check = staticmethod(token_verify_passcode)

        # Every 500 leaves an audit record (there should be none).
        got_request_exception.connect(audit_server_error, dispatch_uid="tessera-500")
