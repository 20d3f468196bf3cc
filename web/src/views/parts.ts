// Small pieces shared by the views: avatars and message ticks.

import * as fmt from '../format';
import type { Tick } from '../store';
import { h, icon, ICONS } from './dom';

/** A round initial in the person's colour, with a presence dot if asked. */
export function avatar(name: string, withDot = false): HTMLElement {
  const el = h('span', { class: 'avatar', 'aria-hidden': 'true' }, fmt.initial(name));
  el.style.backgroundColor = fmt.colour(name);
  if (withDot) el.append(h('span', { class: 'avatar-dot', 'data-online': 'false' }));
  return el;
}

export type MessageState = Tick | 'pending' | 'failed';

const LABELS: Record<MessageState, string> = {
  pending: 'Sending',
  failed: 'Not sent',
  sent: 'Sent',
  delivered: 'Delivered',
  read: 'Read',
};

/** ✓ sent, ✓✓ delivered to all, blue ✓✓ read by all, a clock while pending. */
export function tickIcon(state: MessageState): HTMLElement {
  const paths =
    state === 'pending'
      ? ICONS.clock
      : state === 'failed'
        ? ICONS.alert
        : state === 'sent'
          ? ICONS.check
          : ICONS.checks;
  return h(
    'span',
    { class: `tick tick-${state}`, 'data-testid': 'tick', role: 'img', 'aria-label': LABELS[state], title: LABELS[state] },
    icon(state, paths),
  );
}
