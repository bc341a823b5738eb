import type { MessageStatus } from '../history.js';

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const day = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });

/** A message's time, as the bubble shows it. */
export function timeOf(ts: number): string {
  return time.format(ts * 1000);
}

/** The whole date and time, for a tooltip. */
export function fullDateOf(ts: number): string {
  return full.format(ts * 1000);
}

/** The contact list's "when": the time today, the day before that. */
export function whenOf(ts: number, now: Date = new Date()): string {
  if (ts === 0) return '';
  const date = new Date(ts * 1000);
  return date.toDateString() === now.toDateString() ? time.format(date) : day.format(date);
}

/** An own message's checkmarks and what they say to a screen reader. */
export function checkOf(status: MessageStatus): { mark: string; label: string } {
  switch (status) {
    case 'sending':
      return { mark: '◷', label: 'sending' };
    case 'stored':
      return { mark: '✓', label: 'sent' };
    case 'delivered':
      return { mark: '✓✓', label: 'delivered' };
    case 'read':
      return { mark: '✓✓', label: 'read' };
    default:
      return { mark: '!', label: 'not sent' };
  }
}
