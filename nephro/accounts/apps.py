from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "nephro.accounts"
    label = "accounts"
