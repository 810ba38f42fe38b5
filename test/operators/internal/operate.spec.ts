import { from, interval, Observable, take, lastValueFrom, toArray } from 'rxjs';
import { linkedSubscriber, operate } from '../../../operators/internal/operate';

const passThrough = <T>() =>
  operate<T, T>((source, subscriber) => {
    source.subscribe(linkedSubscriber(subscriber));
  });

describe('operate + linkedSubscriber', () => {
  it('stops a synchronous source as soon as downstream takes what it needs', async () => {
    let pulled = 0;
    const endless = new Observable<number>((s) => {
      for (let i = 0; !s.closed; i++) {
        pulled++;
        s.next(i);
      }
    });
    expect(await lastValueFrom(endless.pipe(passThrough(), take(1), toArray()))).toEqual([0]);
    expect(pulled).toBe(1);
  });

  it('turns a throwing handler into the stream error', async () => {
    const boom = operate<number, number>((source, subscriber) => {
      source.subscribe(
        linkedSubscriber(subscriber, {
          next: () => {
            throw new Error('callback failed');
          },
        }),
      );
    });
    await expect(lastValueFrom(from([1, 2]).pipe(boom))).rejects.toThrow('callback failed');
  });

  it('unsubscribes the source and runs finalize when downstream unsubscribes', () => {
    let finalized = 0;
    const op = operate<number, number>((source, subscriber) => {
      source.subscribe(linkedSubscriber(subscriber, { finalize: () => finalized++ }));
    });
    const values: number[] = [];
    const sub = interval(1)
      .pipe(op)
      .subscribe((v) => values.push(v));
    sub.unsubscribe();
    expect(finalized).toBe(1);
    expect(sub.closed).toBe(true);
  });
});
