import { test } from 'node:test';
import assert from 'node:assert/strict';
import yaml from 'js-yaml';
import { parseConfig } from '../../src/csi/config.js';
import { parseParameters } from '../../src/controller/parameters.js';
import { renderChart } from './helm.js';
import type { K8sObject } from './helm.js';
import { VALUE_SETS } from './fixtures.js';
import { container, podSpec, workload } from './workloads.js';
import type { Workload } from './workloads.js';

// What the rendered chart promises the driver and the cluster: the driver accepts the rendered
// configuration and StorageClasses, mounts line up with volumes, privileges and propagation are
// where they must be, and the pool servers survive upgrades of the plugin image.

const rendered = new Map<string, K8sObject[]>(Object.entries(VALUE_SETS).map(([n, f]) => [n, renderChart({ valueFiles: f })]));

function workloads(objects: K8sObject[]): Workload[] {
  return objects.filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet') as Workload[];
}

test('the rendered configuration is accepted by the driver and lists the pools of the values', () => {
  for (const [name, objects] of rendered) {
    const cm = objects.find((o) => o.kind === 'ConfigMap')! as K8sObject & { data: Record<string, string> };
    const config = parseConfig(yaml.load(cm.data['config.yaml']!));
    assert.ok(config.pools.length >= 1, name);
    assert.equal(config.stateDir, '/var/lib/famfs-csi', name);
    for (const w of workloads(objects)) {
      const famfs = w.spec.template.spec.containers.filter((c) => c.args?.[0] && ['controller', 'node', 'pool-servers'].includes(c.args[0]));
      assert.equal(famfs.length, 1, `${name}: ${w.metadata.name} runs one famfs-csi container`);
      const env = Object.fromEntries((famfs[0]!.env ?? []).map((e) => [e.name, e.value]));
      assert.equal(env.FAMFS_CSI_CONFIG, '/etc/famfs-csi/config.yaml', `${name}: ${w.metadata.name}: FAMFS_CSI_CONFIG (kubectl exec famfs-csi pool ... finds the pools)`);
      assert.ok('POD_NAMESPACE' in env, `${name}: ${w.metadata.name}: POD_NAMESPACE`);
      assert.ok(famfs[0]!.volumeMounts!.some((m) => m.mountPath === '/etc/famfs-csi'), `${name}: ${w.metadata.name} mounts the config`);
      // Every emulated pool's directory is mounted (the pool file and its poison list).
      for (const p of config.pools.filter((x) => x.emulatedSize !== undefined)) {
        const dir = p.device.slice(0, p.device.lastIndexOf('/'));
        assert.ok(famfs[0]!.volumeMounts!.some((m) => m.mountPath === dir), `${name}: ${w.metadata.name} mounts ${dir}`);
      }
    }
  }
});

test('every StorageClass is accepted by the driver and names a configured pool', () => {
  for (const [name, objects] of rendered) {
    const cm = objects.find((o) => o.kind === 'ConfigMap')! as K8sObject & { data: Record<string, string> };
    const pools = parseConfig(yaml.load(cm.data['config.yaml']!)).pools.map((p) => p.name);
    for (const sc of objects.filter((o) => o.kind === 'StorageClass') as Array<K8sObject & { provisioner: string; parameters?: Record<string, string>; allowVolumeExpansion: boolean }>) {
      assert.equal(sc.provisioner, 'famfs.csi.io');
      assert.equal(sc.allowVolumeExpansion, false);
      const p = parseParameters(sc.parameters ?? {});
      if (p.pool !== undefined) assert.ok(pools.includes(p.pool), `${name}: ${sc.metadata.name} names pool ${p.pool}, not one of ${pools.join(', ')}`);
    }
  }
});

test('CSIDriver: no attach, pod info on mount, capacity tracking, fsGroupPolicy None, Persistent only', () => {
  const d = rendered.get('default')!.find((o) => o.kind === 'CSIDriver')! as K8sObject & { spec: Record<string, unknown> };
  assert.equal(d.metadata.name, 'famfs.csi.io');
  assert.deepEqual(d.spec, { attachRequired: false, podInfoOnMount: true, storageCapacity: true, fsGroupPolicy: 'None', volumeLifecycleModes: ['Persistent'] });
});

test('volume mounts name existing volumes; Bidirectional propagation only in privileged containers', () => {
  for (const [name, objects] of rendered) {
    for (const w of workloads(objects)) {
      const spec = podSpec(w);
      const volumes = new Set((spec.volumes ?? []).map((v) => v.name));
      const ports: number[] = [];
      for (const c of spec.containers) {
        for (const m of c.volumeMounts ?? []) {
          assert.ok(volumes.has(m.name), `${name}: ${w.metadata.name}/${c.name} mounts unknown volume ${m.name}`);
          if (m.mountPropagation === 'Bidirectional') assert.equal(c.securityContext?.privileged, true, `${name}: ${w.metadata.name}/${c.name}: Bidirectional needs privileged`);
        }
        ports.push(...(c.ports ?? []).map((p) => p.containerPort));
        assert.ok(c.resources && Object.keys(c.resources).length > 0, `${name}: ${w.metadata.name}/${c.name} has resources`);
      }
      assert.equal(new Set(ports).size, ports.length, `${name}: ${w.metadata.name}: duplicate container ports ${ports.join(',')}`);
    }
  }
});

test('ports of controller and node pods never collide (both may share a host with hostNetwork)', () => {
  for (const [name, objects] of rendered) {
    const all = [workload(objects, 'Deployment', '-controller'), workload(objects, 'DaemonSet', '-node')].flatMap((w) =>
      w.spec.template.spec.containers.flatMap((c) => [...(c.ports ?? []).map((p) => p.containerPort), ...(c.args ?? []).flatMap((a) => /^--(?:http-endpoint|metrics-address)=:(\d+)$/.exec(a)?.[1] ?? []).map(Number)]),
    );
    const unique = new Set(all);
    // Each listening port appears once as a port declaration and once as a flag at most.
    for (const p of unique) assert.ok(all.filter((x) => x === p).length <= 2, `${name}: port ${p} used by two listeners`);
  }
});

test('node plugin: privileged, kubelet dirs and state dir Bidirectional, external pool servers', () => {
  const objects = rendered.get('default')!;
  const node = workload(objects, 'DaemonSet', '-node');
  const plugin = container(node, 'famfs-csi');
  assert.equal(plugin.securityContext?.privileged, true);
  assert.deepEqual(plugin.args!.slice(0, 1), ['node']);
  for (const flag of ['--config=/etc/famfs-csi/config.yaml', '--endpoint=unix:///csi/csi.sock', '--node-id=$(NODE_NAME)', '--kubelet-dir=/var/lib/kubelet', '--state-dir=/var/lib/famfs-csi', '--pool-servers=external', '--kubernetes=auto', '--health-reports=kubernetes', '--kmsg=/dev/kmsg', '--metrics-address=:9811', '--log-format=json']) {
    assert.ok(plugin.args!.includes(flag), `node args lack ${flag}: ${plugin.args!.join(' ')}`);
  }
  const bidi = plugin.volumeMounts!.filter((m) => m.mountPropagation === 'Bidirectional').map((m) => m.mountPath).sort();
  assert.deepEqual(bidi, ['/var/lib/famfs-csi', '/var/lib/kubelet/plugins', '/var/lib/kubelet/pods']);
  assert.ok(plugin.volumeMounts!.some((m) => m.mountPath === '/dev'), '/dev (fuse, kmsg, dax)');
  assert.ok(plugin.volumeMounts!.some((m) => m.mountPath === '/opt/famfs'), 'host identity');
  const reg = container(node, 'node-driver-registrar');
  assert.ok(reg.args!.includes('--kubelet-registration-path=/var/lib/kubelet/plugins/famfs.csi.io/csi.sock'));
  const vols = Object.fromEntries(podSpec(node).volumes!.map((v) => [v.name, v.hostPath?.path]));
  assert.equal(vols['plugin-dir'], '/var/lib/kubelet/plugins/famfs.csi.io');
  assert.equal(vols['registration-dir'], '/var/lib/kubelet/plugins_registry');
});

test('a custom kubelet directory moves every kubelet path', () => {
  const objects = renderChart({ set: ['kubeletDir=/var/lib/k0s/kubelet'] });
  const node = workload(objects, 'DaemonSet', '-node');
  const text = JSON.stringify(node);
  assert.ok(!text.includes('"/var/lib/kubelet'), 'no default kubelet path remains');
  assert.ok(container(node, 'famfs-csi').args!.includes('--kubelet-dir=/var/lib/k0s/kubelet'));
});

test('pool servers: own DaemonSet, OnDelete, privileged, no API token; untouched by a plugin image upgrade', () => {
  const before = renderChart({ set: ['image.tag=0.1.0', 'poolServers.image.tag=0.1.0'] });
  const after = renderChart({ set: ['image.tag=0.2.0', 'poolServers.image.tag=0.1.0', 'logLevel=debug'] });
  const ps = workload(before, 'DaemonSet', '-pool-servers');
  assert.equal(ps.spec.updateStrategy?.type, 'OnDelete');
  const c = container(ps, 'pool-servers');
  assert.deepEqual(c.args!.slice(0, 3), ['pool-servers', '--config=/etc/famfs-csi/config.yaml', '--state-dir=/var/lib/famfs-csi']);
  assert.equal(c.securityContext?.privileged, true);
  assert.equal(c.volumeMounts!.find((m) => m.mountPath === '/var/lib/famfs-csi')?.mountPropagation, 'Bidirectional');
  assert.equal(podSpec(ps).automountServiceAccountToken, false);
  assert.deepEqual(workload(after, 'DaemonSet', '-pool-servers').spec.template, ps.spec.template, 'pool-server pod template changed by a plugin upgrade');
  assert.equal(container(workload(after, 'DaemonSet', '-node'), 'famfs-csi').image, 'famfs-csi:0.2.0');
  assert.equal(c.image, 'famfs-csi:0.1.0');
});

test('poolServers.enabled=false: no pool-server DaemonSet and the node plugin spawns the servers', () => {
  const objects = renderChart({ set: ['poolServers.enabled=false'] });
  assert.equal(objects.filter((o) => o.kind === 'DaemonSet').length, 1);
  assert.ok(container(workload(objects, 'DaemonSet', '-node'), 'famfs-csi').args!.includes('--pool-servers=spawn'));
  assert.ok(!objects.some((o) => o.kind === 'ServiceAccount' && o.metadata.name.endsWith('-pool-servers')));
});

test('controller: one replica, Recreate, provisioner with topology/capacity/leader election, health monitor', () => {
  const ctl = workload(rendered.get('default')!, 'Deployment', '-controller');
  assert.equal(ctl.spec.replicas, 1);
  assert.equal(ctl.spec.strategy?.type, 'Recreate');
  const plugin = container(ctl, 'famfs-csi');
  for (const flag of ['--config=/etc/famfs-csi/config.yaml', '--endpoint=unix:///csi/csi.sock', '--metrics-address=:9810', '--kubernetes=auto', '--health-reports=kubernetes']) {
    assert.ok(plugin.args!.includes(flag), `controller args lack ${flag}`);
  }
  const prov = container(ctl, 'csi-provisioner');
  for (const flag of ['--feature-gates=Topology=true', '--enable-capacity', '--capacity-ownerref-level=2', '--extra-create-metadata', '--leader-election']) {
    assert.ok(prov.args!.includes(flag), `provisioner args lack ${flag}`);
  }
  assert.deepEqual(prov.env!.map((e) => e.name).sort(), ['NAMESPACE', 'POD_NAME']);
  assert.match(container(ctl, 'csi-health-monitor').image, /csi-external-health-monitor-controller:v0\.18\.0$/);
  assert.match(container(ctl, 'liveness-probe').image, /livenessprobe:v/);
  assert.ok(!renderChart({ set: ['controller.healthMonitor.enabled=false'] }).some((o) => JSON.stringify(o).includes('csi-health-monitor')));
});

test('controller privilege follows the pools: none for emulated pools, privileged with /dev for devdax', () => {
  const emulated = container(workload(rendered.get('default')!, 'Deployment', '-controller'), 'famfs-csi');
  assert.notEqual(emulated.securityContext?.privileged, true);
  assert.deepEqual(emulated.securityContext?.capabilities?.drop, ['ALL']);
  assert.equal(emulated.securityContext?.readOnlyRootFilesystem, true);
  assert.ok(!emulated.volumeMounts!.some((m) => m.mountPath === '/dev'));
  const real = workload(rendered.get('real-device')!, 'Deployment', '-controller');
  assert.equal(container(real, 'famfs-csi').securityContext?.privileged, true);
  assert.ok(container(real, 'famfs-csi').volumeMounts!.some((m) => m.mountPath === '/dev'));
  assert.deepEqual(podSpec(real).nodeSelector, { 'kubernetes.io/hostname': 'cxl-host-1' });
  for (const c of podSpec(real).containers.filter((x) => x.name !== 'famfs-csi')) {
    assert.notEqual(c.securityContext?.privileged, true, `sidecar ${c.name} must not be privileged`);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], c.name);
  }
});

test('per-component knobs reach the pods: image, pull policy, args, env, hostNetwork, nodeSelector, tolerations', () => {
  const objects = rendered.get('emulated')!;
  const ctl = workload(objects, 'Deployment', '-controller');
  const node = workload(objects, 'DaemonSet', '-node');
  const ps = workload(objects, 'DaemonSet', '-pool-servers');
  assert.equal(container(ctl, 'famfs-csi').image, 'registry.example.com/mirror/famfs-csi:0.1.0-test');
  assert.equal(container(ctl, 'famfs-csi').imagePullPolicy, 'Always');
  assert.equal(container(ctl, 'csi-provisioner').image, 'registry.example.com/mirror/csi-provisioner:v6.3.0');
  assert.ok(container(ctl, 'famfs-csi').args!.includes('--socket-mode=0600'));
  assert.ok(container(ctl, 'famfs-csi').args!.includes('--health-interval=2s'));
  assert.ok(container(ctl, 'csi-provisioner').args!.includes('--kube-api-qps=20'));
  assert.ok(container(ctl, 'csi-provisioner').args!.includes('--capacity-poll-interval=10s'));
  assert.ok(container(ctl, 'famfs-csi').env!.some((e) => e.name === 'EXTRA'));
  assert.ok(container(ctl, 'csi-health-monitor').env!.some((e) => e.name === 'EXTRA'));
  assert.ok(container(node, 'node-driver-registrar').args!.includes('--timeout=10s'));
  assert.ok(container(node, 'famfs-csi').args!.includes('--kmsg=off'));
  assert.equal(podSpec(ctl).hostNetwork, true);
  assert.equal(podSpec(node).hostNetwork, true);
  assert.deepEqual(podSpec(ctl).nodeSelector, { 'famfs.csi.io/pool-pool0': 'true' });
  assert.equal((podSpec(ctl).tolerations as Array<{ key: string }>)[0]!.key, 'node-role.kubernetes.io/control-plane');
  assert.deepEqual(podSpec(ps).nodeSelector, podSpec(node).nodeSelector, 'pool servers follow the node plugin');
  assert.equal(container(ps, 'pool-servers').image, 'registry.example.com/mirror/famfs-csi:0.1.0');
  assert.ok(objects.some((o) => o.kind === 'ServiceMonitor'));
  assert.ok(objects.some((o) => o.kind === 'PodDisruptionBudget'));
  assert.equal(objects.filter((o) => o.kind === 'Service').length, 2);
});
