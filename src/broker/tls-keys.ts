// The broker's TLS certificate while it runs: one context every TLS listener serves, read again from its files when
// they change (a renewal by Let's Encrypt or cert-manager, a Kubernetes secret updated) or when asked (SIGHUP, the
// embedded API), and its expiry logged whenever it is loaded. Connections already open keep the certificate they
// were served; Kafka renews a listener's keystore the same way, through a dynamic config.
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { TlsContext, type TlsFiles, type TlsMaterial, type TlsSettings } from '../io/tcp.js';
import { readTlsFiles, watchFiles } from '../io/tls-files.js';

/** A certificate expiring sooner than this is warned of at every load. */
const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

export interface CertificateSummary {
  subject: string;
  /** When it expires, ISO 8601. */
  expires: string;
  daysLeft: number;
}

/** The served (first) certificate of a PEM chain: its subject and expiry, `now` being the time it is judged at. */
function certificateSummary(pem: Buffer, now = Date.now()): CertificateSummary {
  const certificate = new X509Certificate(pem);
  const expiresAt = Date.parse(certificate.validTo);
  return { subject: certificate.subject.replace(/\n/g, ', '), expires: new Date(expiresAt).toISOString(), daysLeft: Math.floor((expiresAt - now) / DAY_MS) };
}

export class TlsKeys {
  private stopWatching: (() => void) | null = null;
  /** The reload under way, so that reloads run one at a time. */
  private reloading: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly context: TlsContext,
    private readonly settings: TlsSettings,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /** The context for `settings`; throws, naming the reason, when the certificate and key, or the TLS settings, cannot be used. */
  static open(settings: TlsSettings, logger: Logger, now: () => number = Date.now): TlsKeys {
    let context: TlsContext;
    try {
      context = new TlsContext(settings, { minVersion: settings.minVersion, ciphers: settings.ciphers });
    } catch (err) {
      throw new Error(`TLS: the certificate, key and settings cannot be used: ${(err as Error).message}`);
    }
    const keys = new TlsKeys(context, settings, logger, now);
    keys.logLoaded(certificateSummary(settings.cert, now()), 'TLS certificate loaded');
    return keys;
  }

  /** Looks at the files the keys came from every `fileCheckMs`, and reloads them when they change (failures are logged). */
  watch(fileCheckMs: number): void {
    const files = this.settings.files;
    if (files === undefined || fileCheckMs <= 0 || this.stopWatching !== null) return;
    const paths = [files.cert, files.key, files.ca, files.crl].filter((p): p is string => p !== undefined);
    this.stopWatching = watchFiles(paths, fileCheckMs, () => void this.reload().catch(() => undefined));
  }

  /**
   * Serves `material`, or what the files hold now, from the next connection on. A certificate and key that cannot
   * be used (a key that is not the certificate's, a file half written) are logged and thrown, and the current ones
   * kept.
   */
  reload(material?: TlsMaterial): Promise<CertificateSummary> {
    const next = this.reloading.then(() => this.load(material));
    this.reloading = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.stopWatching?.();
    this.stopWatching = null;
  }

  private async load(given?: TlsMaterial): Promise<CertificateSummary> {
    const files = this.settings.files;
    try {
      if (given === undefined && files === undefined) throw new Error('the certificate was given in memory, not in files: give the new one');
      const material = given ?? (await this.readFiles(files!));
      const summary = certificateSummary(material.cert, this.now());
      this.context.replace(material);
      return this.logLoaded(summary, 'TLS certificate reloaded: new connections are served it');
    } catch (err) {
      const reason = (err as Error).message;
      this.logger.error({ reason, files }, 'TLS certificate reload failed: the current one is still served');
      throw new Error(`TLS certificate reload failed: ${reason}`);
    }
  }

  /** What the files hold now; a CA or revocation list given in memory, not in a file, stays as given. */
  private async readFiles(files: TlsFiles): Promise<TlsMaterial> {
    const read = await readTlsFiles(files);
    return { ...read, ca: read.ca ?? this.settings.ca, crl: read.crl ?? this.settings.crl };
  }

  private logLoaded(summary: CertificateSummary, msg: string): CertificateSummary {
    this.logger.info(summary, msg);
    if (summary.daysLeft < 0) this.logger.error(summary, 'the TLS certificate has expired: clients will refuse it');
    else if (summary.daysLeft < EXPIRY_WARNING_DAYS) this.logger.warn(summary, `the TLS certificate expires in ${summary.daysLeft} days`);
    return summary;
  }
}
