package io.machvm.api;

import io.machvm.service.Task;
import io.machvm.service.TaskConflictException;
import io.machvm.service.TaskInfo;
import io.machvm.service.TaskRegistry;
import io.machvm.service.TaskSpec;
import io.machvm.service.VmService;
import io.machvm.vm.KernException;
import io.machvm.vm.TaskImage;
import java.io.IOException;
import java.io.InputStream;

/**
 * The two other ways {@code POST /tasks} and {@code PUT /tasks/{task}} make a task: a fork of a parent
 * ({@code {"parent": …}}) and a restored snapshot image (a body of {@value TaskImage#MEDIA_TYPE}).
 */
final class SandboxTasks {
    private SandboxTasks() {
    }

    /**
     * Forks {@code parent} into a new task ({@code childId} null: a minted id). Flavor and error model come from the
     * parent: the settings may repeat them but not differ.
     */
    static TaskInfo fork(VmService service, TaskRegistry registry, String parent, TaskSpec spec, String childId) {
        if (childId != null) {
            // A malformed or taken id is answered before the settings are compared with the parent's (the
            // registry's reservation, taken before the fork, then covers a create that races this one).
            refuseTakenId(registry, childId);
        }
        if (spec.flavor() != null || spec.errors() != null) {
            TaskInfo p = find(service, parent);
            if (p != null) { // an unknown parent is answered by task_fork itself
                if (spec.flavor() != null && spec.flavor() != p.flavor()) {
                    throw ApiProblem.invalidArgument("flavor " + Texts.quote(spec.flavor().wireName())
                            + " differs from the parent's (" + p.flavor().wireName()
                            + "): a forked task has its parent's flavor; leave flavor out");
                }
                if (spec.errors() != null && spec.errors() != p.errors()) {
                    throw ApiProblem.invalidArgument("errors " + Texts.quote(spec.errors().wireName())
                            + " differs from the parent's (" + p.errors().wireName()
                            + "): a forked task has its parent's error model; leave errors out");
                }
            }
        }
        return service.forkTask(parent, childId, spec.name());
    }

    /** Restores the image in the request body into a new task ({@code id} null: a minted id). */
    static TaskInfo restore(VmService service, TaskRegistry registry, InputStream body, String id) {
        if (id != null) {
            // Refuse before reading what may be gigabytes of image.
            refuseTakenId(registry, id);
        }
        try {
            return service.restoreTask(body, id);
        } catch (IOException e) {
            throw new BodyStreamException(e);
        }
    }

    private static void refuseTakenId(TaskRegistry registry, String id) {
        if (!TaskRegistry.ID_PATTERN.matcher(id).matches()) {
            throw ApiProblem.invalidArgument("task id must be 1 to 64 of [A-Za-z0-9._-], and not . or ..: "
                    + Texts.quote(id));
        }
        if (find(registry, id) != null) {
            throw new TaskConflictException("task " + id + " exists already: a fork or a restored image needs a "
                    + "new id");
        }
    }

    private static TaskInfo find(VmService service, String id) {
        try {
            return service.describe(id);
        } catch (KernException noSuchTask) {
            return null;
        }
    }

    private static Task find(TaskRegistry registry, String id) {
        try {
            return registry.get(id);
        } catch (KernException noSuchTask) {
            return null;
        }
    }
}
