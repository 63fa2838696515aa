import { visibleText } from '../text.js';
import { Layout } from './Layout.js';

/** The part of the waiting page that live updates replace; the page reloads once the store is there. */
export function WaitingLive({
  storeLabel,
  reason,
}: {
  readonly storeLabel: string;
  readonly reason: string;
}) {
  return (
    <div id="live" data-page="waiting">
      <p class="waiting" id="waiting">
        {`Waiting for the task store ${visibleText(storeLabel)}: ${visibleText(reason)}.`}
      </p>
      <p class="note">
        This page shows the store as soon as it appears — start the orchestrator (or `task-runtime
        demo`) with this store; there is no need to reload.
      </p>
    </div>
  );
}

/** What every page shows while `serve` waits for its store (started before the orchestrator made it). */
export function WaitingPage({
  storeLabel,
  reason,
}: {
  readonly storeLabel: string;
  readonly reason: string;
}) {
  return (
    <Layout title="waiting for the store" storeLabel={storeLabel}>
      <h1>Waiting for the store</h1>
      <WaitingLive storeLabel={storeLabel} reason={reason} />
    </Layout>
  );
}
