// Attachments as the page shows them. Images are fetched with the bearer
// token (thumbnail when the server made one, else the original) and shown
// from blob: URLs; other files are fetched on demand and saved. Each
// attachment is fetched once per page.

import type { Api } from './api';
import type { AttachmentInfo } from './types';

export interface Shown {
  info: AttachmentInfo;
  /** A blob: URL of the image (or its thumbnail), for images. */
  url?: string;
}

/** Originals above this size are not fetched just to show a preview. */
const PREVIEW_MAX_BYTES = 8 * 1024 * 1024;

export function isImage(contentType: string): boolean {
  return /^image\/(png|jpeg|gif|webp|avif|bmp|svg\+xml)$/i.test(contentType);
}

export class Media {
  private shown = new Map<string, Promise<Shown>>();
  private originals = new Map<string, Promise<string>>();
  private urls: string[] = [];

  constructor(private readonly api: Api) {}

  /** Our own upload: show it from the local file, with no round trip. */
  seed(id: string, file: File, contentType: string): void {
    const info: AttachmentInfo = {
      id,
      content_type: contentType,
      size: file.size,
      uploaded: true,
      thumbnail: false,
    };
    const shown: Shown = { info };
    if (isImage(contentType)) shown.url = this.track(URL.createObjectURL(file));
    this.shown.set(id, Promise.resolve(shown));
  }

  show(id: string): Promise<Shown> {
    let p = this.shown.get(id);
    if (!p) {
      p = this.load(id);
      this.shown.set(id, p);
      // A failure (offline, say) is not remembered: the next draw tries again.
      p.catch(() => this.shown.delete(id));
    }
    return p;
  }

  private async load(id: string): Promise<Shown> {
    const info = await this.api.attachmentInfo(id);
    const shown: Shown = { info };
    if (isImage(info.content_type) && (info.thumbnail || info.size <= PREVIEW_MAX_BYTES)) {
      const blob = await this.api.attachmentBlob(id, info.thumbnail);
      shown.url = this.track(URL.createObjectURL(blob));
    }
    return shown;
  }

  /** Fetches the original and hands it to the browser as a download. */
  async download(id: string, name: string): Promise<void> {
    const blob = await this.api.attachmentBlob(id, false);
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  /** A blob: URL of the original, for the full-size view of an image. */
  original(id: string): Promise<string> {
    let p = this.originals.get(id);
    if (!p) {
      p = this.api.attachmentBlob(id, false).then((b) => this.track(URL.createObjectURL(b)));
      this.originals.set(id, p);
      p.catch(() => this.originals.delete(id));
    }
    return p;
  }

  private track(url: string): string {
    this.urls.push(url);
    return url;
  }

  dispose(): void {
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
    this.shown.clear();
    this.originals.clear();
  }
}
