"""HL7 v2 test messages (segments joined with CR unless a test says otherwise)."""

from __future__ import annotations

WORKED_EXAMPLE_SEGMENTS = [
    r"MSH|^~\&|LABSYS|CENTRAL_LAB|GATEWAY|DISTRICT_HOSP|20260115083000+0300||ORU^R01^ORU_R01"
    r"|LAB000123|P|2.5|||AL|NE",
    r"PID|1||MRN4455^^^DISTRICT_HOSP&2.16.840.1.113883.19.5&ISO^MR~NID9988^^^NATID&"
    r"1.3.6.1.4.1.9999.1&ISO^NI||ODHIAMBO^GRACE^A^^^^L||19850412|F",
    r"PV1|1|O|OPD^^^DISTRICT_HOSP",
    r"ORC|RE|PLC881^GATEWAY|FIL552^LABSYS",
    r"OBR|1|PLC881^GATEWAY|FIL552^LABSYS|24323-8^Comprehensive metabolic panel^LN|||"
    r"20260115071500|||||||||||||||20260115082500|||F",
    r"OBX|1|NM|2823-3^Potassium SerPl-sCnc^LN||6.9|mmol/L^mmol/L^UCUM|3.5-5.1|HH|||F|||"
    r"20260115071500",
    r"NTE|1|L|Not hemolysed\.br\Ward called 08:27; ref A\T\E",
    r"OBX|2|SN|33762-6^NT-proBNP SerPl-mCnc^LN||>^900|pg/mL^pg/mL^UCUM|<125|H|||F|||"
    r"20260115071500",
]
WORKED_EXAMPLE = "\r".join(WORKED_EXAMPLE_SEGMENTS)

DIGEST_ERR_ACK = (
    "MSH|^~\\&|GATEWAY|DISTRICT_HOSP|LABSYS|CENTRAL_LAB|20260115083001+0300||ACK^R01^ACK|"
    "GW0000777|P|2.5\r"
    "MSA|CE|LAB000123\r"
    "ERR||PID^1^3^1^1|101^Required field missing^HL70357|E"
)


def msh(*, version: str = "2.5", message_type: str = "ORU^R01^ORU_R01",
        control_id: str = "CTRL1", accept: str = "", application: str = "",
        charset: str = "") -> str:
    fields = ["MSH", r"^~\&", "LABSYS", "CENTRAL_LAB", "GATEWAY", "DISTRICT_HOSP",
              "20260115083000+0300", "", message_type, control_id, "P", version, "", "",
              accept, application, "", charset]
    return "|".join(fields).rstrip("|")


PID = r"PID|1||MRN1^^^HOSP&2.16.840.1.113883.19.5&ISO^MR||DOE^JANE||19900101|F"


def obx(n: int, value: str = "5.0", value_type: str = "NM", code: str = "2345-7",
        status: str = "F") -> str:
    return (f"OBX|{n}|{value_type}|{code}^Analyte {n}^LN||{value}|mmol/L^mmol/L^UCUM|"
            f"3.5-5.5|N|||{status}|||20260115071500")


def oru(n_obx: int = 1, *, version: str = "2.5", pid: str = PID, sep: str = "\r",
        **msh_args: str) -> str:
    segments = [msh(version=version, **msh_args), pid, "PV1|1|I",
                "OBR|1|PLC1|FIL1|24323-8^Panel^LN|||20260115071500|||||||||||||||"
                "20260115082500|||F"]
    segments += [obx(i) for i in range(1, n_obx + 1)]
    return sep.join(segments)
