// Scrapes a broker's /metrics once a second, as Prometheus would, for the metrics-*
// scenarios (issue 18); counts the scrapes that answered 200 and those that failed.
import http from 'node:http';

export interface Scraper {
  ok: number;
  failed: number;
  stop(): void;
}

export function startScraper(port: number, intervalMs = 1000): Scraper {
  // One connection kept alive from scrape to scrape, as Prometheus scrapes.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const s: Scraper = {
    ok: 0,
    failed: 0,
    stop: () => {
      clearInterval(timer);
      agent.destroy();
    },
  };
  const scrape = (): void => {
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', agent, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? s.ok++ : s.failed++));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => s.failed++);
  };
  const timer = setInterval(scrape, intervalMs);
  scrape();
  return s;
}
