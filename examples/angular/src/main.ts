import { bootstrapApplication } from '@angular/platform-browser';
import { provideZonelessChangeDetection } from '@angular/core';
import { ChatComponent } from './app/chat.component';

// Zoneless: the component renders from signals, so no zone.js is needed.
bootstrapApplication(ChatComponent, { providers: [provideZonelessChangeDetection()] }).catch((err) =>
  console.error(err),
);
