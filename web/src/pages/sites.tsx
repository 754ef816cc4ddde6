/** Sites: each site's agent (version, heartbeat, last seen) and its lease as the site monitor sees it. */
import { api, type InventoryView, type SiteRow } from '../api.ts';
import { useChanges } from '../stream.ts';
import { ms, useLoad, when } from '../util.ts';

export function SitesPage() {
  const sites = useLoad(() => api<{ sites: SiteRow[] }>('/sites'), []);
  const inventory = useLoad(() => api<InventoryView>('/inventory?limit=1'), []);
  useChanges(['site'], sites.reload);
  const inv = new Map((inventory.data?.sites ?? []).map((s) => [s.site, s]));
  return (
    <section>
      <h2>Sites</h2>
      {sites.error && <p class="error">{sites.error}</p>}
      <table data-testid="sites">
        <thead>
          <tr>
            <th>Site</th>
            <th>Heartbeat</th>
            <th>Lease</th>
            <th>Lease left</th>
            <th>Agent version</th>
            <th>Last seen</th>
            <th>Clock skew</th>
            <th>VMs</th>
            <th>Inventory age</th>
          </tr>
        </thead>
        <tbody>
          {(sites.data?.sites ?? []).map((site) => (
            <tr key={site.site} data-site={site.site}>
              <td>{site.site}</td>
              <td>
                <span class={`badge ${site.live ? 'live' : 'down'}`}>{site.live ? 'live' : 'silent'}</span>{' '}
                {ms(site.heartbeatAgeMs)} ago
              </td>
              <td>
                <span class={`badge ${site.lease?.state ?? ''}`}>{site.lease?.state ?? 'not seen yet'}</span>
              </td>
              <td>{site.lease ? ms(site.lease.leaseLeftMs) : '—'}</td>
              <td>{site.version}</td>
              <td>{when(site.heartbeatAt)}</td>
              <td>{ms(site.clockSkewMs)}</td>
              <td>{inv.get(site.site)?.vms ?? '—'}</td>
              <td>{ms(inv.get(site.site)?.ageMs)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {sites.data?.sites.length === 0 && <p>No agent has said hello yet.</p>}
    </section>
  );
}
