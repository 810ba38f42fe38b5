import { Component, DestroyRef, inject, signal, type OnInit } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { Subject, finalize, takeUntil } from 'rxjs';
import { LlmError } from 'rxllm/browser';
import { textDeltas } from 'rxllm/operators';
import { ChatService, type ChatTurn } from './chat.service';

/**
 * A chat box: a model picker filled from GET /v1/models, text that appears as it streams, Stop that
 * cancels the request, and leaving the page cancels it too.
 */
@Component({
  selector: 'app-root',
  template: `
    <h1>rxllm chat</h1>
    <label>
      Model
      <select #picker [disabled]="streaming()" (change)="model.set(picker.value)">
        @for (id of models(); track id) {
          <option [value]="id" [selected]="id === model()">{{ id }}</option>
        }
      </select>
    </label>
    @for (turn of turns(); track $index) {
      <p [class]="turn.role"><b>{{ turn.role }}:</b> {{ turn.content }}</p>
    }
    @if (streaming()) {
      <p class="assistant"><b>assistant:</b> {{ answer() }}<span class="cursor">▍</span></p>
    }
    @if (error()) {
      <p class="error">{{ error() }}</p>
    }
    <form (submit)="send(prompt.value); prompt.value = ''; $event.preventDefault()">
      <input #prompt placeholder="Ask something" [disabled]="streaming()" />
      <button type="submit" [disabled]="streaming() || !model()">Send</button>
      <button type="button" (click)="stop()" [disabled]="!streaming()">Stop</button>
    </form>
  `,
  styles: `
    .user { color: #234; }
    .error { color: #a00; }
    .cursor { animation: blink 1s step-end infinite; }
    @keyframes blink { 50% { opacity: 0; } }
  `,
})
export class ChatComponent implements OnInit {
  private readonly chat = inject(ChatService);
  private readonly destroyRef = inject(DestroyRef);
  private readonly stop$ = new Subject<void>();

  readonly models = signal<string[]>([]);
  readonly model = signal('');
  readonly turns = signal<ChatTurn[]>([]);
  readonly answer = signal('');
  readonly streaming = signal(false);
  readonly error = signal('');

  ngOnInit(): void {
    this.chat
      .models()
      .pipe(takeUntilDestroyed(this.destroyRef))
      .subscribe({
        next: (ids) => {
          this.models.set(ids);
          if (!ids.includes(this.model())) this.model.set(ids[0] ?? '');
        },
        error: () =>
          this.error.set(`Could not list the models at ${this.chat.baseUrl}/models: is \`npx rxllm serve\` running?`),
      });
  }

  send(prompt: string): void {
    if (!prompt.trim() || this.streaming() || !this.model()) return;
    const history: ChatTurn[] = [...this.turns(), { role: 'user', content: prompt }];
    this.turns.set(history);
    this.answer.set('');
    this.error.set('');
    this.streaming.set(true);
    this.chat
      .chat(this.model(), history)
      .pipe(
        textDeltas(),
        takeUntil(this.stop$), // Stop: unsubscribing aborts the fetch
        takeUntilDestroyed(this.destroyRef), // leaving the page cancels the request too
        finalize(() => {
          // Keep what arrived, also after Stop.
          const text = this.answer();
          if (text) this.turns.update((t) => [...t, { role: 'assistant', content: text }]);
          this.streaming.set(false);
        }),
      )
      .subscribe({
        next: (piece) => this.answer.update((text) => text + piece),
        // The message, not e.name: a production build minifies class names. Branch with instanceof.
        error: (e: unknown) => this.error.set(e instanceof LlmError ? e.message : 'The request failed.'),
      });
  }

  stop(): void {
    this.stop$.next();
  }
}
