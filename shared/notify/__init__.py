"""Patient notifications, shared by every area that messages patients (waitlist offers, reminders).

:mod:`shared.notify.channels` decides *how* and *when* (pure: channel choice, quiet hours);
:mod:`shared.notify.send` does the sending, once per dedupe key, and keeps no message text or address.
"""

from shared.notify.channels import address_of, choose_channel, in_quiet_hours, next_send_time, reachable

__all__ = ["address_of", "choose_channel", "in_quiet_hours", "next_send_time", "reachable"]
