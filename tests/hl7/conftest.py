"""HL7 test helpers: messages as the hospital would send them, and the strict 2.5.1 check."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from nephro.hl7.inbound import receive


def strict_errors(text: str) -> list[str]:
    """hl7apy's strict 2.5.1 validation of a message we send ([] when it passes)."""
    try:
        message = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
        message.validate(report_file=None)
    except Exception as exc:  # hl7apy raises a ValidationError per problem found
        return [f"{type(exc).__name__}: {exc}"]
    return []


def orm(
    control: str = "NW",
    *,
    control_id: str = "MSG0001",
    placer: str = "PL1001",
    mrn: str = "H123456",
    born: str = "19600517",
    service: str = "NEPHROGRAM-L",
    reason: str = "pre_removal",
    question: str = "Can the tube come out?",
    priority: str = "R",
    charset: str = "",
    family: str = "DOE",
    patient_class: str | None = None,
) -> str:
    """An ORM^O01; with `patient_class`, a PV1 segment carrying it in PV1-2 (none without)."""
    msh18 = f"||||||{charset}" if charset else ""
    pv1 = [] if patient_class is None else [f"PV1|1|{patient_class}"]
    return (
        "\r".join(
            [
                f"MSH|^~\\&|EHR|HOSP|NEPHRO|RAD|20261203101500||ORM^O01^ORM_O01|{control_id}|P|2.5.1{msh18}",
                f"PID|1||{mrn}^^^HOSP^MR||{family}^JANE||{born}|F",
                *pv1,
                f"ORC|{control}|{placer}^EHR|||||^^^^^{priority}|||||D100^WHO^JOHN",
                f"OBR|1|{placer}^EHR||{service}^Nephrostogram|||||||||{question}"
                + "|" * 18
                + f"{reason}^Assessment before removal",
            ]
        )
        + "\r"
    )


def ack(message: str | bytes, codec: str = "utf-8") -> tuple[str, str]:
    """(MSA-1, MSA-3) of our answer to a message received from 10.0.0.5."""
    raw = message.encode(codec) if isinstance(message, str) else message
    parsed = hl7.parse(receive(raw, "10.0.0.5:4000").decode(codec))
    return str(parsed.segment("MSA")(1)), parsed.unescape(str(parsed.segment("MSA")(3)))


@pytest.fixture
def orm_message():
    return orm


INTEROP = Path(__file__).parents[1] / "interop"


def medplum_send(port: int, messages: list[str]) -> list[str]:
    """Send messages with Medplum's MLLP client (an independent peer) over a real socket."""
    done = subprocess.run(
        ["node", str(INTEROP / "mllp_send.mjs"), "127.0.0.1", str(port)],
        input=json.dumps(messages),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.fixture
def mllp(transactional_db):
    """The HL7 listener on a free port, in a background thread."""
    from nephro.hl7 import listener

    running = listener.start("127.0.0.1", 0)
    yield running
    running.stop()
