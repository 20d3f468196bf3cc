// Times and sizes as the page shows them.

const pad = (n: number) => String(n).padStart(2, '0');

/** 14:03 */
export function clock(ts: number): string {
  const d = new Date(ts);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function dayStart(ts: number): number {
  const d = new Date(ts);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** A key for the calendar day of a timestamp: 2026-11-22. */
export function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Today, Yesterday, or 3 Nov (2025 when not this year). */
export function day(ts: number, now = Date.now()): string {
  const days = Math.round((dayStart(now) - dayStart(ts)) / 86_400_000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  const d = new Date(ts);
  const year = d.getFullYear() === new Date(now).getFullYear() ? '' : ` ${d.getFullYear()}`;
  return `${d.getDate()} ${MONTHS[d.getMonth()]}${year}`;
}

/** The time in the conversation list: 14:03 today, else the day. */
export function listTime(ts: number, now = Date.now()): string {
  return dayStart(ts) === dayStart(now) ? clock(ts) : day(ts, now);
}

export function lastSeen(ts: number | null, now = Date.now()): string {
  if (ts === null) return 'offline';
  const when = day(ts, now);
  return `last seen ${when === 'Today' ? 'today' : when === 'Yesterday' ? 'yesterday' : when} at ${clock(ts)}`;
}

export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** A short name for a media type: PDF document, PNG image, file. */
export function kind(contentType: string): string {
  const [top, sub = ''] = contentType.toLowerCase().split(';')[0].split('/');
  const name = sub.replace(/^x-/, '').replace(/\+.*$/, '').toUpperCase();
  if (top === 'image') return `${name} image`;
  if (top === 'video') return `${name} video`;
  if (top === 'audio') return `${name} audio`;
  if (sub === 'pdf') return 'PDF document';
  if (top === 'text') return name === 'PLAIN' ? 'Text file' : `${name} file`;
  return name ? `${name} file` : 'File';
}

/** A file extension for a download name. */
export function extension(contentType: string): string {
  const sub = contentType.toLowerCase().split(';')[0].split('/')[1] ?? '';
  const known: Record<string, string> = {
    jpeg: 'jpg', plain: 'txt', 'svg+xml': 'svg', 'octet-stream': 'bin', markdown: 'md',
  };
  const ext = known[sub] ?? sub.replace(/^x-/, '').replace(/[^a-z0-9]/g, '');
  return ext ? `.${ext.slice(0, 8)}` : '';
}

/** The first letter of a name, for an avatar. */
export function initial(name: string): string {
  return (name.match(/[A-Za-z0-9]/)?.[0] ?? '#').toUpperCase();
}

/** Avatar colours, each dark enough for white text (contrast above 4.5). */
const PALETTE = ['#1f6f5c', '#2b5797', '#7a3e9d', '#a0382a', '#8a5a00', '#0f6e8c', '#5b6b1a', '#9c2f6b'];

/** A stable colour for a name, so each person keeps theirs. */
export function colour(name: string): string {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) % 997;
  return PALETTE[h % PALETTE.length];
}
