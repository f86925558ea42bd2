/** The e-mail outbox: each alert is a file under `<home>/outbox/`, named by time and subject. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Clock, Notifier } from '../../ports.js';

export class OutboxNotifier implements Notifier {
  private sequence = 0;

  constructor(
    private readonly dir: string,
    private readonly clock: Clock,
  ) {}

  async publish(message: { subject: string; body: string; attributes?: Record<string, string> }): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    const stamp = this.clock.now().toISOString().replace(/[:.]/g, '-');
    const slug = message.subject
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 80);
    const file = path.join(this.dir, `${stamp}-${String(++this.sequence).padStart(3, '0')}-${slug}.eml`);
    const headers = [`Subject: ${message.subject}`, ...Object.entries(message.attributes ?? {}).map(([k, v]) => `X-Flywheel-${k}: ${v}`)];
    await fs.writeFile(file, `${headers.join('\n')}\n\n${message.body}\n`);
  }
}
