/**
 * The seed's batch job (examples/sections/batch.ts): 100 "classify this ticket" requests, here with
 * a `custom_id` each, for the provider-batch tests.
 */
export const TICKET_COUNT = 100;

export function ticketRequests(model: `${string}/${string}`, count = TICKET_COUNT) {
  return Array.from({ length: count }, (_, i) => ({
    custom_id: `ticket-${i}`,
    model,
    messages: [
      {
        role: 'system' as const,
        content: 'Classify the support ticket as billing or technical. Answer with one word.',
      },
      {
        role: 'user' as const,
        content:
          i % 3 === 0 ? `Ticket ${i}: please refund my last charge` : `Ticket ${i}: the app crashes on start`,
      },
    ],
  }));
}

/** The mock's answer to a ticket: what the seed's classifier says. */
export function classify(body: unknown): string {
  return /refund|charge/i.test(JSON.stringify(body)) ? 'billing' : 'technical';
}
