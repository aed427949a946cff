/**
 * Runs a training run as a Kubernetes batch/v1 Job (NST_TRAINING_RUNNER=kubernetes), instead of
 * the in-process worker the local stack uses (NST_TRAINING_RUNNER=local, the default).
 *
 * The Job runs the fine-tuning image (by default the very image of the pod this service runs in)
 * with the training entry point, the shared volume (PVC nst-pvc) at /persistent_storage and the
 * platform ConfigMap; the job's parameters travel as JSON in NST_TRAINING_JOB (jobs/envelope.ts,
 * the schema the entry point decodes with). The training
 * process reports progress and publishes versions through the shared volume, as the in-process
 * worker does; this module only creates the Job, follows it (watch, with polling as a fallback)
 * to success or failure, cancels it and reads its pod's log. Jobs carry the label
 * app.kubernetes.io/managed-by=nst-finetune, by which a restarted service finds them again.
 *
 * RBAC it needs (k8s/base/rbac.yaml): batch/jobs create/get/list/watch/delete, pods get/list/watch,
 * pods/log get — in its own namespace only.
 */
import { readFileSync } from 'node:fs';
import { BatchV1Api, CoreV1Api, KubeConfig, Watch, type V1Job } from '@kubernetes/client-node';
import { z } from 'zod';
import { TRAINING_ENVELOPE_ENV, type TrainingEnvelopeInput } from '@nst/contracts';
import { encodeEnvelope } from './envelope.ts';

const TRAINING_RUNNERS = ['local', 'kubernetes'] as const;

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The settings of the Kubernetes runner (all optional but the runner choice). */
export const k8sRunnerEnv = {
  NST_TRAINING_RUNNER: z.enum(TRAINING_RUNNERS).default('local'),
  /** Namespace for the Jobs; default: the service account's own namespace. */
  NST_K8S_NAMESPACE: z.string().optional(),
  /** This pod's name (downward API), used to find the image to run. */
  NST_K8S_POD_NAME: z.string().optional(),
  /** Image for the training Jobs; default: the image this pod runs. */
  NST_K8S_JOB_IMAGE: z.string().optional(),
  NST_K8S_PVC: z.string().default('nst-pvc'),
  NST_K8S_CONFIGMAP: z.string().default('nst-config'),
  /** Secret whose `url` key is the platform database (NST_DATABASE_URL); optional, absent in file mode. */
  NST_K8S_DATABASE_SECRET: z.string().default('nst-database'),
  NST_K8S_JOB_SERVICE_ACCOUNT: z.string().default('nst-training'),
  /** Command the Job runs, split on spaces (the fine-tuning service's training entry point). */
  NST_K8S_TRAINING_COMMAND: z.string().default('tsx src/cli.ts job'),
  NST_K8S_JOB_CPU: z.string().default('2'),
  NST_K8S_JOB_MEMORY: z.string().default('4Gi'),
  NST_K8S_JOB_DEADLINE_S: z.coerce.number().int().positive().default(6 * 3600),
  NST_K8S_JOB_TTL_S: z.coerce.number().int().min(0).default(3600),
};
const k8sRunnerSchema = z.object(k8sRunnerEnv);
export type K8sRunnerSettings = z.output<typeof k8sRunnerSchema>;

export function loadK8sRunnerSettings(env: NodeJS.ProcessEnv = process.env): K8sRunnerSettings {
  return k8sRunnerSchema.parse(env);
}

export interface JobTemplateConfig {
  namespace: string;
  image: string;
  pvcName: string;
  configMapName: string;
  databaseSecretName: string;
  serviceAccountName: string;
  command: string[];
  cpu: string;
  memory: string;
  activeDeadlineSeconds: number;
  ttlSecondsAfterFinished: number;
  storageDir?: string;
}

/** What to train: the fine-tuning service's job id, the model and the request's parameters. */
export type TrainingJobRequest = TrainingEnvelopeInput;

/** The label selector of every Job this service creates. */
const MANAGED_SELECTOR = 'app.kubernetes.io/managed-by=nst-finetune';

export type KubernetesJobState = 'pending' | 'running' | 'succeeded' | 'failed';

const LABEL_VALUE = /[^A-Za-z0-9._-]/g;
const labelValue = (v: string) =>
  v
    .replace(LABEL_VALUE, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');

/** A DNS-1123 name for the Job of a training run (≤ 63 characters, so its pods' names fit too). */
export function trainingJobName(id: string): string {
  const clean = id
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  if (!clean) throw new Error(`job id "${id}" has no usable characters for a Kubernetes name`);
  return `nst-train-${clean}`.slice(0, 52).replace(/-$/, '');
}

/** The batch/v1 Job for one training run: restricted pod security, shared volume, no API token. */
export function buildTrainingJob(cfg: JobTemplateConfig, req: TrainingJobRequest): V1Job {
  const name = trainingJobName(req.id);
  const labels = {
    'app.kubernetes.io/name': 'nst-training',
    'app.kubernetes.io/component': 'training',
    'app.kubernetes.io/part-of': 'nst-platform',
    'app.kubernetes.io/managed-by': 'nst-finetune',
    'nst.io/job-id': labelValue(req.id),
    'nst.io/model': labelValue(req.model),
    // Allowed to fetch upstream training data over HTTPS (k8s/base/networkpolicy.yaml).
    'nst.io/egress-internet': 'true',
  };
  const storageDir = cfg.storageDir ?? '/persistent_storage';
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: cfg.namespace, labels, annotations: { 'nst.io/job-id': req.id } },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: cfg.activeDeadlineSeconds,
      ttlSecondsAfterFinished: cfg.ttlSecondsAfterFinished,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: cfg.serviceAccountName,
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'train',
              image: cfg.image,
              command: cfg.command,
              envFrom: [{ configMapRef: { name: cfg.configMapName } }],
              env: [
                { name: 'NST_STORAGE_DIR', value: storageDir },
                { name: 'NST_TRAINING_RUNNER', value: 'local' },
                { name: 'NST_TRAINING_JOB_ID', value: req.id },
                { name: TRAINING_ENVELOPE_ENV, value: encodeEnvelope(req) },
                // The run reads ratings and publishes through the same store as the service.
                { name: 'NST_DATABASE_URL', valueFrom: { secretKeyRef: { name: cfg.databaseSecretName, key: 'url', optional: true } } },
              ],
              resources: { requests: { cpu: cfg.cpu, memory: cfg.memory }, limits: { cpu: cfg.cpu, memory: cfg.memory } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'storage', mountPath: storageDir },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'storage', persistentVolumeClaim: { claimName: cfg.pvcName } },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
    },
  };
}

/** Where a Job stands, from its status. */
export function jobState(job: V1Job | undefined | null): KubernetesJobState {
  const s = job?.status;
  if (!s) return 'pending';
  const cond = (type: string) => s.conditions?.some((c) => c.type === type && c.status === 'True');
  if (cond('Complete') || (s.succeeded ?? 0) > 0) return 'succeeded';
  if (cond('Failed') || (s.failed ?? 0) > 0) return 'failed';
  if ((s.active ?? 0) > 0 || (s.ready ?? 0) > 0) return 'running';
  return 'pending';
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** Called on every state change. */
  onState?: (state: KubernetesJobState, job: V1Job | null) => void;
  /** Pause before re-reading after a watch ends or fails (ms). */
  retryMs?: number;
}

class JobLauncherError extends Error {}

const httpCode = (err: unknown) => (err as { code?: number }).code;

export class KubernetesJobLauncher {
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private imageFromPod: string | undefined;

  constructor(
    private readonly kc: KubeConfig,
    readonly settings: K8sRunnerSettings,
    readonly namespace: string,
  ) {
    this.batch = kc.makeApiClient(BatchV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** In a pod: the in-cluster configuration and the service account's namespace. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, kc?: KubeConfig): KubernetesJobLauncher {
    const settings = loadK8sRunnerSettings(env);
    const config = kc ?? new KubeConfig();
    if (!kc) config.loadFromDefault();
    let namespace = settings.NST_K8S_NAMESPACE;
    if (!namespace) {
      try {
        namespace = readFileSync(SA_NAMESPACE_FILE, 'utf8').trim();
      } catch {
        namespace = config.getContextObject(config.getCurrentContext())?.namespace ?? 'default';
      }
    }
    return new KubernetesJobLauncher(config, settings, namespace);
  }

  /** The image the Jobs run: NST_K8S_JOB_IMAGE, else this pod's own container image. */
  async image(): Promise<string> {
    if (this.settings.NST_K8S_JOB_IMAGE) return this.settings.NST_K8S_JOB_IMAGE;
    if (this.imageFromPod) return this.imageFromPod;
    const podName = this.settings.NST_K8S_POD_NAME ?? process.env.HOSTNAME;
    if (!podName) throw new JobLauncherError('set NST_K8S_JOB_IMAGE or NST_K8S_POD_NAME to choose the training image');
    const pod = await this.core.readNamespacedPod({ name: podName, namespace: this.namespace });
    const image = pod.spec?.containers?.[0]?.image;
    if (!image) throw new JobLauncherError(`pod ${podName} has no container image`);
    this.imageFromPod = image;
    return image;
  }

  async templateConfig(): Promise<JobTemplateConfig> {
    const s = this.settings;
    return {
      namespace: this.namespace,
      image: await this.image(),
      pvcName: s.NST_K8S_PVC,
      configMapName: s.NST_K8S_CONFIGMAP,
      databaseSecretName: s.NST_K8S_DATABASE_SECRET,
      serviceAccountName: s.NST_K8S_JOB_SERVICE_ACCOUNT,
      command: s.NST_K8S_TRAINING_COMMAND.split(/\s+/).filter(Boolean),
      cpu: s.NST_K8S_JOB_CPU,
      memory: s.NST_K8S_JOB_MEMORY,
      activeDeadlineSeconds: s.NST_K8S_JOB_DEADLINE_S,
      ttlSecondsAfterFinished: s.NST_K8S_JOB_TTL_S,
    };
  }

  /** Creates the Job; returns its name. One that already exists (same job id) is kept. */
  async launch(req: TrainingJobRequest): Promise<string> {
    const body = buildTrainingJob(await this.templateConfig(), req);
    try {
      const created = await this.batch.createNamespacedJob({ namespace: this.namespace, body });
      return created.metadata?.name ?? body.metadata!.name!;
    } catch (err) {
      if (httpCode(err) === 409) return body.metadata!.name!;
      throw err;
    }
  }

  async read(name: string): Promise<V1Job> {
    return this.batch.readNamespacedJob({ name, namespace: this.namespace });
  }

  /** The Job, or null when there is none of that name. */
  async find(name: string): Promise<V1Job | null> {
    try {
      return await this.read(name);
    } catch (err) {
      if (httpCode(err) === 404) return null;
      throw err;
    }
  }

  /** Every Job this service created in its namespace (finished ones until their TTL). */
  async listManaged(): Promise<V1Job[]> {
    return (await this.batch.listNamespacedJob({ namespace: this.namespace, labelSelector: MANAGED_SELECTOR })).items;
  }

  /**
   * Follows the Job until it succeeds or fails: a watch on that one Job, re-read and
   * re-established whenever the watch ends (API server time-outs, network errors).
   * 'gone': deleted (by someone else, or by its TTL while nobody followed it).
   */
  async wait(name: string, o: WaitOptions = {}): Promise<'succeeded' | 'failed' | 'gone'> {
    const retryMs = o.retryMs ?? 2000;
    let readErrors = 0;
    let last: KubernetesJobState | null = null;
    const report = (job: V1Job | null): KubernetesJobState => {
      const state = jobState(job);
      if (state !== last) o.onState?.(state, job);
      last = state;
      return state;
    };
    const watch = new Watch(this.kc);
    for (;;) {
      if (o.signal?.aborted) throw new JobLauncherError(`stopped following job ${name}`);
      let job: V1Job | null;
      try {
        job = await this.find(name);
        readErrors = 0;
      } catch (err) {
        // The API server restarting or unreachable for a while is no reason to give up the run.
        if (++readErrors >= 30) throw err;
        await new Promise((r) => setTimeout(r, retryMs));
        continue;
      }
      if (!job) return 'gone';
      const state = report(job);
      if (state === 'succeeded' || state === 'failed') return state;
      const final = await new Promise<'succeeded' | 'failed' | null>((resolve) => {
        let settled = false;
        let controller: AbortController | undefined;
        const finish = (v: 'succeeded' | 'failed' | null) => {
          if (settled) return;
          settled = true;
          o.signal?.removeEventListener('abort', onAbort);
          controller?.abort();
          resolve(v);
        };
        const onAbort = () => finish(null);
        o.signal?.addEventListener('abort', onAbort, { once: true });
        watch
          .watch(
            `/apis/batch/v1/namespaces/${this.namespace}/jobs`,
            { fieldSelector: `metadata.name=${name}`, allowWatchBookmarks: false },
            (phase, obj: V1Job) => {
              if (phase === 'DELETED') return finish(null);
              const s = report(obj);
              if (s === 'succeeded' || s === 'failed') finish(s);
            },
            () => finish(null),
          )
          .then(
            (c) => {
              controller = c;
              if (settled) c.abort();
            },
            () => finish(null),
          );
      });
      if (final) return final;
      if (!o.signal?.aborted) await new Promise((r) => setTimeout(r, retryMs));
    }
  }

  /** Deletes the Job and its pods (cancellation). A Job already gone is fine. */
  async cancel(name: string): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({ name, namespace: this.namespace, propagationPolicy: 'Background' });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
  }

  /** The last lines of the Job's pod's log (for the job's error message). */
  async logs(name: string, tailLines = 50): Promise<string> {
    const pods = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: `job-name=${name}` });
    const pod = pods.items[0]?.metadata?.name;
    if (!pod) return '';
    return this.core.readNamespacedPodLog({ name: pod, namespace: this.namespace, tailLines });
  }
}
