from django.apps import AppConfig


class Hl7Config(AppConfig):
    name = "nephro.hl7"
    label = "hl7"
    verbose_name = "HL7 v2 interface (orders in, results out)"

    def ready(self) -> None:
        from nephro.hl7 import outbox

        outbox.connect_signals()
