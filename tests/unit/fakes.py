"""In-memory fakes of our own ports, for unit tests of the rules."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Collection, Iterable, Iterator, Mapping

from chalicelib.core.values import BY_INSTANT, AppointmentFact, CustomerRead, Person, Profile, RepairFact, SaleFact
from chalicelib.rules.tags import is_vip


@dataclass
class FakeRepository:
    """The matchers' repository over lists; each read keeps the contract of its index (inclusive bounds,
    sparse on status) and counts the records it returns."""

    people: list[Person] = field(default_factory=list)
    sales: list[SaleFact] = field(default_factory=list)
    repairs: list[RepairFact] = field(default_factory=list)
    appointments: list[AppointmentFact] = field(default_factory=list)
    tenant_id: str = "t1"
    reads: int = 0
    #: How many reads were only counted (`count_profiles`); their items are among `reads`.
    counted: int = 0

    def _read(self, tenant_id: str, items: Iterable) -> Iterator:
        if tenant_id != self.tenant_id:
            return
        for item in items:
            self.reads += 1
            yield item

    def _by_id(self, start_after: str | None) -> list[Person]:
        """The customers in their table's (and the month-day indexes') order, after `start_after`."""
        return sorted((p for p in self.people if start_after is None or p.customer_id > start_after),
                      key=lambda p: p.customer_id)

    def customers_by_month_day(self, tenant_id: str, field: str, month_day: str,
                               start_after: str | None = None) -> Iterator[Person]:
        return self._read(tenant_id, (p for p in self._by_id(start_after)
                                      if getattr(p, field) and getattr(p, field)[-5:] == month_day))

    def customers_active_between(self, tenant_id: str, first: str, last: str,
                                 start_after: tuple[str, str] | None = None) -> Iterator[Person]:
        ordered = sorted((p for p in self.people if first <= p.last_activity_at <= last),
                         key=lambda p: (p.last_activity_at, p.customer_id))
        return self._read(tenant_id, (p for p in ordered
                                      if start_after is None or (p.last_activity_at, p.customer_id) > start_after))

    def all_customers(self, tenant_id: str, start_after: str | None = None) -> Iterator[Person]:
        return self._read(tenant_id, self._by_id(start_after))

    def sales_completed_between(self, tenant_id: str, first: str, last: str) -> Iterator[SaleFact]:
        return self._read(tenant_id, (s for s in self.sales if first <= s.completed_at <= last))

    def repairs_ready_between(self, tenant_id: str, first: str, last: str) -> Iterator[RepairFact]:
        return self._read(tenant_id, (r for r in self.repairs
                                      if r.status == "ready" and first <= r.ready_at <= last))

    def appointments_booked_between(self, tenant_id: str, first: str, last: str) -> Iterator[AppointmentFact]:
        return self._read(tenant_id, (a for a in self.appointments
                                      if a.status == "booked" and first <= a.starts_at <= last))

    def customers(self, tenant_id: str, customer_ids: Iterable[str]) -> Mapping[str, Person]:
        wanted = set(customer_ids)
        return {p.customer_id: p for p in self._read(tenant_id, (p for p in self.people if p.customer_id in wanted))}

    # The segments' reads: `people` are `Profile`s there, read whole whatever the fields asked for.

    def read_profiles(self, tenant_id: str, read: CustomerRead, start_after: str | tuple[str, str] | None = None,
                      fields: Collection[str] | None = None) -> Iterator[Profile]:
        if read.index in BY_INSTANT:
            attribute = BY_INSTANT[read.index]
            ordered = sorted((p for p in self.people if (read.first or "") <= getattr(p, attribute) <= read.last),
                             key=lambda p: (getattr(p, attribute), p.customer_id))
            return self._read(tenant_id, (p for p in ordered if start_after is None
                                          or (getattr(p, attribute), p.customer_id) > start_after))
        held = {"all": lambda p: True, "vip": lambda p: is_vip(p.tags),
                "birthday": lambda p: bool(p.birthday) and p.birthday[-5:] == read.key,
                "anniversary": lambda p: bool(p.anniversary) and p.anniversary[-5:] == read.key}[read.index]
        return self._read(tenant_id, (p for p in self._by_id(start_after) if held(p)))

    def count_profiles(self, tenant_id: str, read: CustomerRead) -> int:
        self.counted += 1
        return sum(1 for _ in self.read_profiles(tenant_id, read))
