"""The outbox handler of ``lab_alerts``: each raise or escalation of an alert goes to the
channel its facility's route names for that level (see :mod:`.model`), then to the live
feed. The alert's delivery status says whether a channel reached somebody this time."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from resolvers.clock import Clock
from resolvers.labs.alerting.channels import AlertChannel, AlertNotice
from resolvers.labs.alerting.model import AlertRoutes, ChannelSpec, RaisedAlert, channel_order
from resolvers.labs.alerting.ports import LabAlertFeed
from resolvers.labs.ports import LabUnitOfWorkFactory
from resolvers.labs.records import ALERT_DELIVERED, ALERT_UNDELIVERED, LabAlert
from resolvers.outbox.model import OutboxMessage

log = logging.getLogger("cari.labs.alerts")


class LabAlertDispatcher:
    def __init__(self, uow_factory: LabUnitOfWorkFactory, clock: Clock, routes: AlertRoutes,
                 channels: Mapping[ChannelSpec, AlertChannel], feed: LabAlertFeed | None = None,
                 on_undelivered: Callable[[], None] | None = None) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._routes = routes
        self._channels = channels
        self._feed = feed
        self._on_undelivered = on_undelivered

    async def deliver(self, message: OutboxMessage) -> None:
        alert_id = str(message.payload.get("alert_id", ""))
        async with self._uow_factory() as uow:
            alert = (await uow.labs.get_alerts([alert_id])).get(alert_id)
            result = await uow.labs.get_result(alert.lab_result_id) if alert else None
        if alert is None:
            return  # nothing to send (the outbox row outlived its alert)
        level = int(message.payload.get("escalation_level", 0) or 0)
        if alert.acknowledged_at is not None and level > 0:
            return  # acknowledged after the escalation was queued: nobody needs waking
        facility = result.sending_facility if result is not None else ""
        if self._feed is not None:
            # Screens first (the alert and its escalation level are committed already, by
            # ingest or the escalation pass): they should not wait for a slow channel. A
            # feed that fails costs the screens this event, never the channels' delivery.
            try:
                await self._feed.publish(raised(alert, facility, level))
            except Exception as exc:
                log.warning("a lab alert could not be published to live subscribers",
                            extra={"alert_id": alert.id}, exc_info=exc)
        notice = AlertNotice(alert, facility, level, message, self._clock.now())
        delivered = await self._send(notice)
        async with self._uow_factory() as uow:
            await uow.labs.set_alert_delivery(
                alert.id, ALERT_DELIVERED if delivered else ALERT_UNDELIVERED)
            await uow.commit()
        if not delivered and self._on_undelivered is not None:
            self._on_undelivered()

    async def _send(self, notice: AlertNotice) -> bool:
        specs = self._routes.channels_for(notice.facility)
        for index in channel_order(len(specs), notice.level):
            channel = self._channels.get(specs[index])
            if channel is None:
                continue
            outcome = await channel.send(notice)
            if outcome.reached:
                return True
            log.warning("a lab alert channel reached nobody; trying the next",
                        extra={"alert_id": notice.alert.id, "channel": specs[index].kind,
                               "reason": outcome.reason})
        log.warning("a critical lab alert reached no channel",
                    extra={"alert_id": notice.alert.id, "level": notice.level})
        return False


def raised(alert: LabAlert, facility: str, level: int) -> RaisedAlert:
    return RaisedAlert(alert_id=alert.id, facility=facility, lab_result_id=alert.lab_result_id,
                       patient_id=alert.patient_id, code=alert.code, direction=alert.direction,
                       created_at=alert.created_at, escalation_level=level)
