/**
 * The real tools accept the deployment files: Debian's docker-compose, ansible-playbook
 * --syntax-check and ansible-lint, Groovy's compiler for the Jenkinsfiles, shellcheck for every
 * shell script (and the shell blocks inside the Jenkinsfiles), plus a real Ansible render run.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { MODEL_LIST } from '@nst/common';
import { ROOT, parseYamlStream, rel, run, runOk } from './tools.ts';

const MODELS = MODEL_LIST.map((m) => m.name);

const COMPOSE_ENV = { NST_TAG: 'test' };

describe("docker-compose (Debian's docker-compose)", () => {
  it('accepts docker-compose.yml, with and without the elk profile', async () => {
    const version = await runOk('docker-compose', ['version', '--short']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+/);
    await runOk('docker-compose', ['-f', rel('docker-compose.yml'), 'config', '--quiet'], { env: COMPOSE_ENV });
    const services = await runOk('docker-compose', ['-f', rel('docker-compose.yml'), '--profile', 'elk', 'config', '--services'], { env: COMPOSE_ENV });
    expect(services.stdout.trim().split('\n').sort()).toEqual(
      ['elasticsearch', 'filebeat', 'finetune', 'frontend', 'gateway', 'kibana', 'kibana-setup', 'logstash', ...MODELS, 'models-pull', 'postgres'].sort(),
    );
  });

  it('rejects a broken compose file (the check is real)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'nst-compose-'));
    try {
      await writeFile(path.join(dir, 'docker-compose.yml'), 'services:\n  x:\n    image: a\n    depends_on:\n      y: { condition: service_healthy }\n');
      const r = await run('docker-compose', ['-f', path.join(dir, 'docker-compose.yml'), 'config', '--quiet']);
      expect(r.code).not.toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('wires health-gated start-up: PostgreSQL and models-pull first, inference healthy before the gateway, gateway before the UI', async () => {
    const r = await runOk('docker-compose', ['-f', rel('docker-compose.yml'), 'config'], { env: COMPOSE_ENV });
    const c = parse(r.stdout) as { services: Record<string, { depends_on?: Record<string, { condition: string }>; healthcheck?: { test?: string[]; disable?: boolean }; volumes?: unknown[] }> };
    const s = c.services;
    for (const m of [...MODELS, 'finetune']) expect(s[m]!.depends_on!['models-pull']!.condition).toBe('service_completed_successfully');
    for (const m of MODELS) expect(s.gateway!.depends_on![m]!.condition).toBe('service_healthy');
    for (const m of ['models-pull', 'gateway', 'finetune']) expect(s[m]!.depends_on!.postgres!.condition, m).toBe('service_healthy');
    expect(s.frontend!.depends_on!.gateway!.condition).toBe('service_healthy');
    for (const name of [...MODELS, 'gateway', 'finetune', 'frontend', 'postgres']) expect(s[name]!.healthcheck?.test?.length, name).toBeGreaterThan(0);
    // PostgreSQL keeps its data on a named volume; the services reach it by its service name.
    // docker-compose 1.x prints "source:target:rw"; 2.x prints { source, target }.
    const volumes = (s.postgres!.volumes as ({ source: string; target: string } | string)[]).map((v) => (typeof v === 'string' ? v.split(':').slice(0, 2).join(':') : `${v.source}:${v.target}`));
    expect(volumes).toContain('pgdata:/var/lib/postgresql/data');
    const env = (name: string) => (c.services[name] as { environment: Record<string, string> }).environment;
    for (const name of ['gateway', 'finetune', 'models-pull']) expect(new URL(env(name).NST_DATABASE_URL!).host, name).toBe('postgres:5432');
    for (const m of MODELS) expect(env(m).NST_DATABASE_URL, m).toBeUndefined();
  });
});

describe('Ansible (Debian packages ansible + ansible-lint)', () => {
  const ansibleDir = rel('ansible');
  const playbooks = ['cleanup.yml', 'deploy-k8s.yml', 'deploy-elk.yml', 'umbrella-playbook.yml'];

  it('has the kubernetes.core collection offline', async () => {
    const r = await runOk('ansible-galaxy', ['collection', 'list', 'kubernetes.core'], { cwd: ansibleDir });
    expect(r.stdout).toMatch(/kubernetes\.core\s+\d+\.\d+/);
  });

  it('ansible-playbook --syntax-check passes for every playbook', async () => {
    for (const p of playbooks) {
      const r = await runOk('ansible-playbook', ['--syntax-check', p], { cwd: ansibleDir });
      expect(r.stdout).toContain(`playbook: ${p}`);
    }
  });

  it('the umbrella playbook imports clean-up, platform and ELK in that order', async () => {
    const plays = parse(await readFile(path.join(ansibleDir, 'umbrella-playbook.yml'), 'utf8')) as { 'ansible.builtin.import_playbook': string }[];
    expect(plays.map((p) => p['ansible.builtin.import_playbook'])).toEqual(['cleanup.yml', 'deploy-k8s.yml', 'deploy-elk.yml']);
  });

  it('ansible-lint passes (production profile) over the whole ansible/ folder', async () => {
    const r = await run('ansible-lint', ['--offline', '--nocolor'], { cwd: ansibleDir, timeoutMs: 170_000, env: { ANSIBLE_LINT_NODEPS: '0' } });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stderr + r.stdout).toMatch(/Passed with production profile/);
  });

  it('renders the staging and production manifests for real through the role (kustomize lookup, no cluster)', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'nst-ansible-render-'));
    try {
      for (const env of ['staging', 'production']) {
        const dir = path.join(out, env);
        await runOk(
          'ansible-playbook',
          ['deploy-k8s.yml', '-e', `nst_env=${env}`, '-e', 'nst_render_only=true', '-e', 'nst_image_tag=0123abcd4567', '-e', 'nst_image_registry=reg.test/nst', '-e', `nst_render_dir=${dir}`],
          { cwd: ansibleDir, timeoutMs: 120_000 },
        );
        const objs = parseYamlStream(await readFile(path.join(dir, 'nst.yaml'), 'utf8'));
        const images = objs
          .filter((o) => o.kind === 'Deployment')
          .map((o) => (o as unknown as { spec: { template: { spec: { containers: { image: string }[] } } } }).spec.template.spec.containers[0]!.image);
        expect(images.length).toBe(3 + MODELS.length); // frontend, gateway, finetune and one per model
        for (const img of images) expect(img).toMatch(/^reg\.test\/nst\/(frontend|gateway|inference|finetune):0123abcd4567$/);
        const ns = objs.find((o) => o.kind === 'Namespace')!.metadata.name;
        expect(ns).toBe(env === 'production' ? 'nst' : 'nst-staging');
        const pv = objs.find((o) => o.kind === 'PersistentVolume') as unknown as { metadata: { name: string }; spec: { nfs: { path: string } } };
        expect(pv.metadata.name).toBe(`nst-pv-${env}`);
        // One replica count per inference unit of the list, from the role's per-environment setting.
        for (const m of MODELS) {
          const d = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === m) as unknown as { spec: { replicas: number } };
          expect(d.spec.replicas, m).toBe(env === 'production' ? 2 : 1);
        }
        expect(objs.some((o) => o.kind === 'StatefulSet' && o.metadata.name === 'postgres')).toBe(true);
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe("Jenkinsfiles (Debian's groovy)", () => {
  const files = ['Jenkinsfile', 'Jenkinsfile.finetune'];

  it('both compile as Groovy', async () => {
    const r = await runOk('groovy', [rel('tests/deploy/parse-jenkinsfile.groovy'), ...files.map((f) => rel(f))], { timeoutMs: 60_000 });
    for (const f of files) expect(r.stdout).toContain(`parsed ${rel(f)}`);
  });

  it('a syntax error is reported (the check is real)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'nst-groovy-'));
    try {
      const bad = path.join(dir, 'Jenkinsfile');
      await writeFile(bad, readFileSync(rel('Jenkinsfile'), 'utf8').replace("stage('Smoke test') {", "stage('Smoke test') {{"));
      const r = await run('groovy', [rel('tests/deploy/parse-jenkinsfile.groovy'), bad], { timeoutMs: 60_000 });
      expect(r.code).not.toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('NST_App has the stages, parameters and calls the issue asks for', () => {
    const j = readFileSync(rel('Jenkinsfile'), 'utf8');
    for (const s of ['Checkout', 'Checks', 'Lint', 'Typecheck', 'Tests', 'Manifests', 'Build and push images', 'Deploy to staging', 'Smoke test', 'Feedback gate', 'Deploy to production']) expect(j).toContain(`stage('${s}')`);
    expect(j).toMatch(/parallel\s*\{/);
    expect(j).toMatch(/booleanParam\(name: 'DEPLOY_PRODUCTION', defaultValue: false/);
    expect(j).toMatch(/string\(name: 'BAD_FEEDBACK_THRESHOLD', defaultValue: '5'/);
    expect(j).toContain("build(job: 'FineTuneModels'");
    expect(j).toMatch(/post\s*\{[\s\S]*cleanup\.yml/);
  });

  it('FineTuneModels has a parameter for every fine-tuning option and follows up', () => {
    const j = readFileSync(rel('Jenkinsfile.finetune'), 'utf8');
    for (const p of ['MODEL', 'FINETUNE_URL', 'STEPS', 'BATCH_SIZE', 'IMAGE_SIZE', 'LEARNING_RATE', 'STYLE_WEIGHT', 'CONTENT_WEIGHT', 'TV_WEIGHT', 'DATA', 'PUBLISH', 'CANARY_PERCENT', 'TRIGGERED_BY']) expect(j).toContain(`name: '${p}'`);
    expect(j).toContain("credentialsId: 'nst-admin-token'");
    expect(j).toContain("build(job: 'NST_App'");
    expect(j).toMatch(/failure\s*\{[\s\S]*mail\(/);
  });

  it('every script and playbook the pipelines call exists', () => {
    for (const f of ['Jenkinsfile', 'Jenkinsfile.finetune']) {
      const j = readFileSync(rel(f), 'utf8');
      for (const m of j.matchAll(/(scripts\/[\w./-]+\.(?:ts|sh))/g)) expect(existsSync(rel(m[1]!)), `${f}: ${m[1]}`).toBe(true);
      for (const m of j.matchAll(/ansible-playbook ([\w.-]+\.yml)/g)) expect(existsSync(rel('ansible', m[1]!)), `${f}: ${m[1]}`).toBe(true);
    }
  });
});

function shellScripts(): string[] {
  const out: string[] = [];
  const skip = new Set(['node_modules', '.git', 'dist', '.tmp', 'persistent_storage', 'shared', 'coverage']);
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (skip.has(name)) continue;
      const p = path.join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (name.endsWith('.sh') || (st.mode & 0o111 && /^#!.*\b(ba)?sh\b/.test(readFileSync(p, 'utf8').split('\n', 1)[0]!))) out.push(p);
    }
  };
  walk(ROOT);
  return out;
}

describe("shellcheck (Debian's shellcheck)", () => {
  it('passes for every shell script in the repository', async () => {
    const scripts = shellScripts();
    expect(scripts.map((s) => path.relative(ROOT, s))).toEqual(expect.arrayContaining(['scripts/setup.sh', '.ci/run', 'scripts/pipeline/build-images.sh', 'scripts/pipeline/cleanup-images.sh']));
    const r = await run('shellcheck', ['--severity=style', ...scripts]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it("passes for the shell blocks inside the Jenkinsfiles (sh '''…''')", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'nst-sh-'));
    try {
      const files: string[] = [];
      for (const f of ['Jenkinsfile', 'Jenkinsfile.finetune']) {
        const text = readFileSync(rel(f), 'utf8');
        let i = 0;
        for (const m of text.matchAll(/sh\s*'''([\s\S]*?)'''/g)) {
          const file = path.join(dir, `${f}-${i++}.sh`);
          await writeFile(file, `#!/bin/sh\n${m[1]}\n`);
          files.push(file);
        }
      }
      expect(files.length).toBeGreaterThan(0);
      const r = await run('shellcheck', ['--shell=sh', ...files]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('build-images.sh builds and pushes every image tagged with the commit', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'nst-docker-stub-'));
    try {
      // A stand-in docker client that records its arguments: this checks the script's own logic.
      const log = path.join(dir, 'calls');
      const stub = path.join(dir, 'docker');
      await writeFile(stub, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\n`, { mode: 0o755 });
      await runOk('bash', [rel('scripts/pipeline/build-images.sh')], { env: { DOCKER: stub, REGISTRY: 'reg.test/nst', IMAGE_TAG: 'abc123' } });
      const calls = (await readFile(log, 'utf8')).trim().split('\n');
      const builds = calls.filter((c) => c.startsWith('build '));
      const pushes = calls.filter((c) => c.startsWith('push '));
      expect(builds).toHaveLength(4);
      for (const svc of ['gateway', 'inference', 'finetune']) expect(builds.some((b) => b.includes('--file docker/node.Dockerfile') && b.includes(`SERVICE=${svc}`) && b.includes(`--tag reg.test/nst/${svc}:abc123`))).toBe(true);
      expect(builds.some((b) => b.includes('--file docker/frontend.Dockerfile') && b.includes('--tag reg.test/nst/frontend:abc123'))).toBe(true);
      expect(pushes.sort()).toEqual(['finetune', 'frontend', 'gateway', 'inference'].map((s) => `push reg.test/nst/${s}:abc123`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
