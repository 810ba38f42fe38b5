/**
 * A Nest pipe that validates a chat request body, so a bad body is a 400 JSON error (OpenAI's
 * shape) from Nest's own exception layer before any stream starts — guards, pipes and exception
 * filters keep working on streaming routes.
 */
import { BadRequestException, NotFoundException, type PipeTransform } from '@nestjs/common';
import { RequestValidationError } from '../errors';
import { validateRequest, type ChatRequest } from '../request';
import { MAX_REQUEST_DEPTH, nestsDeeper } from '../requestLimits';

export interface ChatRequestPipeOptions {
  /**
   * The rxllm model for the body's `model`; `undefined` is a 404. @defaultValue the body's model
   * itself (`provider/model`)
   */
  resolveModel?: (requested: string) => string | undefined;
}

/**
 * `@Body(new ChatRequestPipe())`: the body as a validated `ChatRequest` (its `stream` and
 * `stream_options` removed: they describe your route, not the upstream call), or a 400
 * `{ error: { message, type: 'invalid_request_error', param, code } }`.
 *
 * @example
 * // doc-test: typecheck-only
 * import { Body, Controller, Post, Res } from '@nestjs/common';
 * import type { Response } from 'express';
 * import { sendSse, type ChatRequest } from 'rxllm';
 * import { ChatRequestPipe, RxllmClient } from 'rxllm/nestjs';
 * // The browser picks the model, the server's keys pay: serve only the models you mean to.
 * const MODELS = new Map([['fast', 'openai/gpt-4o-mini'], ['smart', 'openai/gpt-4o']]);
 * @Controller('chat')
 * export class ChatController {
 *   constructor(private readonly llm: RxllmClient) {}
 *   @Post()
 *   chat(@Body(new ChatRequestPipe({ resolveModel: (m) => MODELS.get(m) })) body: ChatRequest, @Res() res: Response) {
 *     return sendSse(res, this.llm.stream(body));
 *   }
 * }
 */
export class ChatRequestPipe implements PipeTransform<unknown, ChatRequest> {
  constructor(private readonly options: ChatRequestPipeOptions = {}) {}

  transform(value: unknown): ChatRequest {
    const bad = (message: string) =>
      new BadRequestException({ error: { message, type: 'invalid_request_error', param: null, code: null } });
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw bad('The request body must be a JSON object (a chat request).');
    }
    // Unknown fields go upstream as they came: a body nested thousands of levels deep would overflow
    // the stack where it is serialised again (a 500), so it is a 400 here, as in `prepareChat`.
    if (nestsDeeper(value, MAX_REQUEST_DEPTH)) {
      throw bad(`The request body nests deeper than ${MAX_REQUEST_DEPTH} levels of objects and arrays.`);
    }
    const { stream: _stream, stream_options: _options, ...rest } = value as Record<string, unknown>;
    if (this.options.resolveModel && typeof rest.model === 'string') {
      const model = this.options.resolveModel(rest.model);
      if (model === undefined) {
        throw new NotFoundException({
          error: {
            message: `The model "${rest.model.slice(0, 100)}" does not exist here.`,
            type: 'invalid_request_error',
            param: 'model',
            code: 'model_not_found',
          },
        });
      }
      rest.model = model;
    }
    try {
      return validateRequest(rest);
    } catch (error) {
      if (error instanceof RequestValidationError) throw bad(error.message);
      throw error;
    }
  }
}
