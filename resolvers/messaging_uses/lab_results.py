""""Your results are ready": one message to the patient a lab result was linked to.

The outbox handler of ``lab_result_linked`` notices (resolvers/labs/patient_notices.py),
written in the transaction that linked the result, so HL7 ingest pays one outbox row per
linked result and no messaging work. The template (``CARI_LAB_RESULT_NOTIFY_TEMPLATE``)
has one body parameter, the facility where results are read; never a value, a test name nor
a patient name. It goes only to a patient who opted in on that phone (``requires_consent``:
messaging stores anything else as suppressed, with the reason). Key:
``lab-result-ready:{lab_result_id}:{patient_id}``, so a notice handled twice sends once and
a result unlinked and then linked to another patient tells that patient too.
"""

from __future__ import annotations

import logging

from resolvers.clock import Clock
from resolvers.labs.ports import LabUnitOfWorkFactory
from resolvers.messaging.model import MessageRequest, Purpose, TemplateCall
from resolvers.messaging.ports import MessageScheduler
from resolvers.messaging_uses.model import MessagingUsesConfig
from resolvers.outbox.delivery import PermanentDeliveryError
from resolvers.outbox.model import OutboxMessage

log = logging.getLogger("cari.messaging_uses")

KIND = "lab-result-ready"


def lab_result_message(lab_result_id: str, patient_id: str, config: MessagingUsesConfig,
                       clock: Clock) -> MessageRequest:
    return MessageRequest(
        key=f"{KIND}:{lab_result_id}:{patient_id}", purpose=Purpose.LAB_RESULT_READY,
        template=TemplateCall(config.lab_result_template, config.language,
                              body_params=(config.facility_name or "-",)),
        send_at=clock.now(), patient_id=patient_id, requires_consent=True)


class LabResultReady:
    """The outbox DeliveryHandler of ``lab_result_linked``."""

    def __init__(self, uow_factory: LabUnitOfWorkFactory, scheduler: MessageScheduler,
                 clock: Clock, config: MessagingUsesConfig) -> None:
        self._uow_factory = uow_factory
        self._scheduler = scheduler
        self._clock = clock
        self._config = config

    async def deliver(self, message: OutboxMessage) -> None:
        result_id = message.payload.get("lab_result_id")
        patient_id = message.payload.get("patient_id")
        if not isinstance(result_id, str) or not isinstance(patient_id, str):
            raise PermanentDeliveryError("not a lab_result_linked notice")
        if not self._config.lab_results_on:
            return  # turned off since the notice was written
        async with self._uow_factory() as uow:
            result = await uow.labs.get_result(result_id)
        # Unlinked (or linked elsewhere) since: this patient is not told.
        if result is None or result.status != "linked" or result.patient_id != patient_id:
            log.info("lab result no longer linked to the notified patient", extra={
                "lab_result_id": result_id})
            return
        await self._scheduler.schedule([lab_result_message(result_id, patient_id,
                                                           self._config, self._clock)])
